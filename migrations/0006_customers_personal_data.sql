-- Tag the source's personal data: a column comment that starts with PII, and how a masked
-- view shows the column (email, phone or redact), makes it PII for Weir. weir lint then
-- follows these columns through every model and fails on one that lets them through
-- unmasked without saying it may hold them; weir grants shows them masked to analysts;
-- checks mask them in the failing rows they print and store.
--
-- raw.customers is the only table with personal data: the e-mail address and the name
-- identify a person. city and country stay untagged: a coarse location, which the
-- regional reports need and which names nobody on its own (the source keeps no street
-- address or phone number).
--
-- Only comments change, so this takes no lock that blocks readers or writers for long.

COMMENT ON COLUMN raw.customers.email IS 'PII(email) Login e-mail address, lower case, unique.';
COMMENT ON COLUMN raw.customers.full_name IS 'PII(redact) Name as the customer entered it.';
