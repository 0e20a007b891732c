"""ShopSage: self-hosted search and recommendation for online shops."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
