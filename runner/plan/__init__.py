"""`weir plan`: what `weir run` would do, and how each changed model's columns change (runner.plan.plan)."""

from runner.plan.columns import ColumnChange, column_changes, describe
from runner.plan.plan import ModelPlan, Plan, plan

__all__ = ["ColumnChange", "ModelPlan", "Plan", "column_changes", "describe", "plan"]
