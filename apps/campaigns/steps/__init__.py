"""One module per wizard step; see apps/campaigns/wizard.py for the three functions each has."""
