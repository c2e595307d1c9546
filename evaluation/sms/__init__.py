"""Rating by SMS through Twilio: the outbox that sends prompts, the webhook residents reply to, the
conversation that turns a reply into a review, and a local stand-in of Twilio's Messages API."""
