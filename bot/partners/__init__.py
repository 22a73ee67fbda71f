"""What partner organisations receive: monthly digests and, with consent, single cases."""
