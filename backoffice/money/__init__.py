"""Money in and out beside the 835: patient payments (with receipts), credit balances and refunds under dual
control, and bank deposits matched to ERAs and payment batches (issue 18)."""
