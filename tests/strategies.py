"""Hypothesis strategies shared by the engine's property tests and its parity test."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Details of each record kind, covering every value the default policy's rules look at.
DETAILS_BY_KIND: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "complaint": st.fixed_dictionaries(
        {"outcome": st.sampled_from(["substantiated", "unsubstantiated", "unfounded"])}
    ),
    "abuse_finding": st.fixed_dictionaries({"harm": st.sampled_from(["actual", "potential"])}),
    "penalty": st.fixed_dictionaries(
        {
            "severity": st.sampled_from(["minor", "general", "serious"]),
            "penalty_kinds": st.lists(
                st.sampled_from(["warning", "fine", "licence_revocation"]), min_size=1, max_size=2
            ),
            "violation_category": st.sampled_from(
                [None, "subsidy_fraud", "obstructing_inspection", "false_information", "fees"]
            ),
        }
    ),
    "commendation": st.just({"level": "county"}),
    "inspection": st.just({}),
}
