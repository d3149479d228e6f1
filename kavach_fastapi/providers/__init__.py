"""Sign-in providers: one module each, over the shared description in `.base`."""

from ..models import ProviderProfile
from .atlassian import AtlassianProvider, atlassian_provider
from .base import OAuthProvider

__all__ = ["AtlassianProvider", "OAuthProvider", "ProviderProfile", "atlassian_provider"]
