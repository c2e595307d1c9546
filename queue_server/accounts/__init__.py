"""People who log in (clerks, managers, admins, auditors), the life of every token (list, rotate,
revoke on every instance at once, expire), and device enrollment by one-time code."""
