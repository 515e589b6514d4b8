"""Employment links: who works where, and the bar on hiring black-listed practitioners."""
