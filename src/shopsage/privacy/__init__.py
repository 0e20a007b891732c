"""Privacy by design: pseudonymous ids at the edge (``ids``), personal data scrubbed from free text
(``scrub``). See ``docs/architecture.md`` (privacy) for what is stored and how a user is erased."""

from __future__ import annotations

from shopsage.privacy.cipher import FieldCipher
from shopsage.privacy.dp import PrivacyLedger, clamped_counts, dp_counts
from shopsage.privacy.erase import erase_user
from shopsage.privacy.ids import Pseudonymizer
from shopsage.privacy.imports import private_importer, shop_pseudonymizer
from shopsage.privacy.scrub import scrub_query

__all__ = ["Pseudonymizer", "scrub_query", "FieldCipher", "PrivacyLedger", "clamped_counts", "dp_counts", "erase_user",
           "private_importer", "shop_pseudonymizer"]
