"""The credit engine: scores, grades, explanations, star linkage and subsidy eligibility."""
