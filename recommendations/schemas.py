"""Structured outputs of the three prompts; registered by name in RecommendationsConfig.ready()."""

from typing import Literal

from pydantic import BaseModel, Field


class RecommendationOutput(BaseModel):
    title: str = Field(description="A short imperative title for the next step.")
    summary: str = Field(description="Why and how, in markdown, a few sentences.")
    actions: list[str] = Field(min_length=1, max_length=5, description="Concrete actions.")
    priority: Literal["high", "medium", "low"]
    effort: Literal["hours", "days", "weeks"]


class AuthorProfile(BaseModel):
    name: str
    role: str
    company: str


class InsightItem(BaseModel):
    content: str = Field(description="The insight, in markdown, one short paragraph.")
    relevance_score: float = Field(ge=0.5, le=1.0)
    author_profile: AuthorProfile


class InsightSetOutput(BaseModel):
    insights: list[InsightItem] = Field(min_length=1, max_length=5)


class HealthSummaryOutput(BaseModel):
    score: int = Field(ge=0, le=100, description="Overall business health, 0-100.")
    headline: str
    summary: str = Field(description="The analysis, in markdown.")
    strengths: list[str] = Field(max_length=5)
    risks: list[str] = Field(max_length=5)
    next_focus: str


SCHEMAS = {
    "recommendation": RecommendationOutput,
    "insight_set": InsightSetOutput,
    "health_summary": HealthSummaryOutput,
}
