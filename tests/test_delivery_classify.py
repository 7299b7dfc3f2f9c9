"""What a webhook target's status means for a delivery, and how attempts are counted."""

from __future__ import annotations

import dataclasses

import pytest

from connector.hooks.delivery import DeliveryReport, Outcome, Verdict, classify


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_answer_delivers(status: int) -> None:
    assert classify(status) is Verdict.DELIVERED


def test_a_410_answer_means_the_target_is_gone() -> None:
    assert classify(410) is Verdict.GONE


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_timeouts_rate_limits_and_5xx_are_transient(status: int) -> None:
    assert classify(status) is Verdict.TRANSIENT


@pytest.mark.parametrize("status", [100, 301, 304, 400, 401, 403, 404, 409, 413, 422, 451])
def test_other_answers_are_refusals_retried_only_a_few_times(status: int) -> None:
    assert classify(status) is Verdict.REFUSED


def test_a_delivery_report_has_one_count_per_outcome() -> None:
    assert [f.name for f in dataclasses.fields(DeliveryReport)] == [o.value for o in Outcome]
    report = DeliveryReport()
    for outcome in (Outcome.DELIVERED, Outcome.DELIVERED, Outcome.DEAD):
        report.count(outcome)
    assert report == DeliveryReport(delivered=2, dead=1)
