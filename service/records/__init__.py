"""Records: the facts inspectors log, their lifecycle, imports and the dual-disclosure export."""
