"""Good and bad reviews (好差评): ratings bound to served tickets from the window tablet, SMS and the
web, the SMS outbox and webhook (Twilio), unrated marking, the bad-review rectification loop and the
satisfaction figures. Plugged into the app as one component (``evaluation.component``)."""
