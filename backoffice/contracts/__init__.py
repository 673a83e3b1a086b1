"""The billing company's own business: client contracts (fee terms, owned steps, promised SLAs) and the monthly
invoices computed from them, each line traceable to the payments, claims and appeals behind it."""
