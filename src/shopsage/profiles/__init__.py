"""User profiles: what a shopper looked at and bought, summarised for personalization and display."""

from shopsage.profiles.profile import EVENT_WEIGHTS, ItemInfo, Profile, build_profile

__all__ = ["Profile", "ItemInfo", "build_profile", "EVENT_WEIGHTS"]
