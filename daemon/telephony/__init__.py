"""Telephony: the Twilio Media Streams wire protocol (`codec`) and, later, the REST client."""
