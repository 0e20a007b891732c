"""Business rules (exclude, pin, boost, bury) and diversity (category caps, MMR) over item slots."""

from shopsage.policy.diversity import category_cap, mmr
from shopsage.policy.rules import ItemFacts, Rule, RuleOutcome, apply_rules

__all__ = ["ItemFacts", "Rule", "RuleOutcome", "apply_rules", "category_cap", "mmr"]
