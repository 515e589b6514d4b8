"""The public view: credit status and published lists, for anyone, without personal data."""
