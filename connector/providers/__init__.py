"""Upstream TikTok data APIs behind one interface."""

from .base import Capability, Provider, VideoPage
from .registry import PROVIDERS, provider_class

__all__ = ["PROVIDERS", "Capability", "Provider", "VideoPage", "provider_class"]
