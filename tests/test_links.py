from __future__ import annotations

import pytest

from connector.links import InvalidVideoLink, parse_video_link, ref_from_id

ID = "7321234567890123456"


@pytest.mark.parametrize(
    ("text", "video_id", "handle"),
    [
        (f"https://www.tiktok.com/@user.name/video/{ID}", ID, "user.name"),
        (
            f"https://www.tiktok.com/@User_1/video/{ID}?is_from_webapp=1&sender_device=pc",
            ID,
            "user_1",
        ),
        (f"https://www.tiktok.com/@user/video/{ID}/", ID, "user"),
        (f"https://www.tiktok.com/@user/video/{ID}#comments", ID, "user"),
        (f"https://m.tiktok.com/@user/video/{ID}", ID, "user"),
        (f"http://tiktok.com/@user/video/{ID}", ID, "user"),
        (f"www.tiktok.com/@user/video/{ID}", ID, "user"),
        (f"  https://www.tiktok.com/@user/video/{ID}  ", ID, "user"),
        (f"https://m.tiktok.com/v/{ID}.html", ID, None),
        (f"https://www.tiktok.com/embed/v2/{ID}", ID, None),
    ],
)
def test_long_links_give_id_and_handle(text: str, video_id: str, handle: str | None) -> None:
    ref = parse_video_link(text)
    assert ref.video_id == video_id
    assert ref.handle == handle
    assert ref.url.endswith(f"/video/{video_id}")
    assert "?" not in ref.url


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://vm.tiktok.com/ZMhKxyz/", "https://vm.tiktok.com/ZMhKxyz/"),
        ("vm.tiktok.com/ZMhKxyz", "https://vm.tiktok.com/ZMhKxyz/"),
        ("https://vt.tiktok.com/ZSabc123/?k=1", "https://vt.tiktok.com/ZSabc123/"),
        ("https://www.tiktok.com/t/ZTRabc12/", "https://www.tiktok.com/t/ZTRabc12/"),
    ],
)
def test_short_links_are_kept_for_upstream_to_resolve(text: str, url: str) -> None:
    ref = parse_video_link(text)
    assert ref.url == url
    assert ref.video_id is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a url",
        "https://www.youtube.com/watch?v=abc",
        "https://www.tiktok.com/@user",
        "https://www.tiktok.com/@user/video/",
        "https://www.tiktok.com/@user/video/abc",
        "https://evil.example/@user/video/7321234567890123456",
        "https://www.tiktok.com.evil.example/@u/video/7321234567890123456",
        "ftp://www.tiktok.com/@user/video/7321234567890123456",
        "https://vm.tiktok.com/",
        "javascript:alert(1)",
    ],
)
def test_other_text_is_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidVideoLink, match="tiktok.com/@user/video"):
        parse_video_link(text)


def test_numeric_id_gets_a_canonical_url() -> None:
    ref = ref_from_id(f" {ID} ")
    assert ref.video_id == ID
    assert ref.url == f"https://www.tiktok.com/@_/video/{ID}"
    with pytest.raises(InvalidVideoLink):
        ref_from_id("12ab")
