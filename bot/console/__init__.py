"""The local console: an admin's reports in a browser on their own machine, opened there."""
