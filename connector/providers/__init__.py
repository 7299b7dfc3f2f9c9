"""Upstream TikTok data APIs behind one interface."""

from .base import Capability, Provider, VideoPage, capabilities_for
from .failover import FailoverProvider
from .limits import ConcurrencyLimits
from .registry import PROVIDERS, UnknownProvider, provider_class

__all__ = [
    "PROVIDERS",
    "Capability",
    "ConcurrencyLimits",
    "FailoverProvider",
    "Provider",
    "UnknownProvider",
    "VideoPage",
    "capabilities_for",
    "provider_class",
]
