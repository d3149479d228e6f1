"""Sign-in providers: one module each, over the shared description in :mod:`.base`."""

from .atlassian import AtlassianProvider, atlassian_provider
from .base import OAuthProvider, ProviderProfile

__all__ = ["AtlassianProvider", "OAuthProvider", "ProviderProfile", "atlassian_provider"]
