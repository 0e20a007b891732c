"""Business rules (exclude, pin, boost, bury) and diversity (category caps, MMR) over item slots."""

from shopsage.policy.diversity import category_cap, mmr
from shopsage.policy.rules import ItemFacts, Pin, Rule, RuleOutcome, apply_rules, place_pins

__all__ = ["ItemFacts", "Pin", "Rule", "RuleOutcome", "apply_rules", "category_cap", "mmr", "place_pins"]
