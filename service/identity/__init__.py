"""How subjects are identified: the codes (USCC, resident ID number, region) and the
protection of ID numbers at rest and in what is shown."""
