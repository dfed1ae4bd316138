"""Structured outputs of the review prompts; registered by name in ReviewsConfig.ready()."""

from typing import Literal

from pydantic import BaseModel, Field

# The proposal's sections, in order. Personas read some of them (Persona.sections).
PROPOSAL_SECTIONS = (
    "problem_statement",
    "proposed_solution",
    "scope_and_non_goals",
    "architecture",
    "security_and_data",
    "operations",
    "costs_and_value",
    "risks",
)


class ExpandedProposal(BaseModel):
    title: str = Field(description="A short name for the proposal.")
    problem_statement: str
    proposed_solution: str
    scope_and_non_goals: str
    architecture: str
    security_and_data: str
    operations: str
    costs_and_value: str
    risks: list[str] = Field(max_length=8)
    assumptions: list[str] = Field(max_length=8)


class Concern(BaseModel):
    text: str
    category: Literal["security", "cost", "delivery", "product", "operations", "other"]
    severity: Literal["low", "medium", "high", "critical"]
    is_blocking: bool = Field(description="True only if the proposal must not go ahead as is.")


class PersonaReviewOutput(BaseModel):
    summary: str
    confidence_score: float = Field(
        ge=0.0, le=1.0, description="How confident you are the proposal should go ahead."
    )
    strengths: list[str] = Field(max_length=5)
    concerns: list[Concern] = Field(max_length=6)
    recommendations: list[str] = Field(max_length=5)


SCHEMAS = {
    "review_proposal": ExpandedProposal,
    "persona_review": PersonaReviewOutput,
}
