"""What a record states: the kinds of fact, the subjects each may name, and the fields
of each kind with the values they may take. Records (their lifecycle), the policy (its
rules match these fields) and the credit engine all read them from here."""
