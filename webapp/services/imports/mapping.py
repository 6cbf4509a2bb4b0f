"""Which customer field each column of a file goes to: recognised whole for Tally's own
export, Stripe's and Chargebee's customer exports, else column by column from common
header names; anything else is "Don't import"."""

from __future__ import annotations

import re

from webapp.services.exports.csv_writing import HEADINGS as TALLY_HEADINGS

# The fields a column can go to, in the order the mapping page lists them.
FIELDS: dict[str, str] = {
    "customer_id": "Customer ID (matching only)",
    "external_id": "External ID",
    "name": "Name",
    "company": "Company",
    "first_name": "Contact first name",
    "last_name": "Contact last name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "fax": "Fax",
    "position": "Position",
    "website": "Website",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "city": "City",
    "region": "State / region",
    "postal_code": "Postal code",
    "country": "Country",
    "currency": "Billing currency",
    "tax_id": "Tax ID / VAT number",
    "tax_rate": "Tax rate % (picks the tax class)",
    "payment_terms_days": "Payment terms (days)",
    "invoicing_flow": "Invoicing flow",
    "auto_pay": "Auto pay",
    "payment_gateway": "Payment gateway",
    "status": "Status",
    "footnotes": "Footnotes",
}
SKIP = ""
SKIP_LABEL = "Don't import"

MATCH_CHOICES: dict[str, str] = {
    "customer_id": "Customer ID",
    "external_id": "External ID",
    "email": "Email",
}

PRESET_LABELS = {
    "tally": "Tally's customer export",
    "stripe": "Stripe's customer export",
    "chargebee": "Chargebee's customer export",
    "": "",
}


def header_key(header: str) -> str:
    """A header as compared: lower case, words only ("E-mail" and "e_mail" are "e mail")."""
    return " ".join(re.findall(r"[a-z0-9]+", header.casefold()))


# Tally's export, heading by heading (Balance, Other balances, Created and Last changed are
# Tally's own figures: money moves only through the ledger, so they are not imported).
_TALLY = {
    "Customer ID": "customer_id",
    "Name": "name",
    "Company": "company",
    "First name": "first_name",
    "Last name": "last_name",
    "Email": "email",
    "Phone": "phone",
    "Mobile": "mobile",
    "Fax": "fax",
    "Position": "position",
    "Website": "website",
    "Address line 1": "address_line1",
    "Address line 2": "address_line2",
    "City": "city",
    "Region": "region",
    "Postal code": "postal_code",
    "Country": "country",
    "Currency": "currency",
    "Tax ID": "tax_id",
    "Tax rate %": "tax_rate",
    "Payment terms (days)": "payment_terms_days",
    "Invoicing flow": "invoicing_flow",
    "Auto pay": "auto_pay",
    "Payment gateway": "payment_gateway",
    "Status": "status",
    "Footnotes": "footnotes",
    "External ID": "external_id",
}

# Stripe's Dashboard export of customers (Customers → Export). Its "Status", "Plan" and
# "Coupon" are a subscription's, "Balance" Stripe's own figure: not imported.
_STRIPE = {
    "id": "external_id",
    "name": "name",
    "email": "email",
    "phone": "phone",
    "business vat id": "tax_id",
    "currency": "currency",
    "address line1": "address_line1",
    "address line2": "address_line2",
    "address city": "city",
    "address state": "region",
    "address zip": "postal_code",
    "address country": "country",
}
_STRIPE_SIGNS = ({"id", "email", "created utc"}, {"id", "email", "card id"})

# Chargebee's export of customers (Settings → Import & export data → Customers): columns
# named "customers.<attribute>" and "billing_address.<attribute>".
_CHARGEBEE = {
    "customers id": "external_id",
    "customers first name": "first_name",
    "customers last name": "last_name",
    "customers email": "email",
    "customers company": "company",
    "customers phone": "phone",
    "customers vat number": "tax_id",
    "customers auto collection": "auto_pay",
    "customers preferred currency code": "currency",
    "billing address line1": "address_line1",
    "billing address line2": "address_line2",
    "billing address city": "city",
    "billing address state": "region",
    "billing address state code": "region",
    "billing address zip": "postal_code",
    "billing address country": "country",
}

# Any other file: common names for each field, compared as header_key does.
_COMMON = {
    "customer_id": ["customer id", "customer number", "tally id"],
    "external_id": ["external id", "external reference", "reference", "ref", "account id"],
    "name": ["name", "customer name", "full name", "display name", "account name", "customer"],
    "company": [
        "company",
        "company name",
        "organisation",
        "organization",
        "business name",
        "business",
    ],
    "first_name": ["first name", "firstname", "given name", "contact first name", "forename"],
    "last_name": ["last name", "lastname", "surname", "family name", "contact last name"],
    "email": ["email", "e mail", "email address", "e mail address", "mail", "emailaddress"],
    "phone": ["phone", "telephone", "phone number", "tel", "telephone number", "landline"],
    "mobile": ["mobile", "mobile phone", "mobile number", "cell", "cell phone", "cellphone"],
    "fax": ["fax", "fax number"],
    "position": ["position", "job title", "title", "role"],
    "website": ["website", "web site", "web", "url", "homepage", "home page", "site"],
    "address_line1": [
        "address",
        "address line 1",
        "address line1",
        "address 1",
        "address1",
        "street",
        "street address",
        "billing address",
        "billing address 1",
        "line 1",
        "line1",
    ],
    "address_line2": [
        "address line 2",
        "address line2",
        "address 2",
        "address2",
        "line 2",
        "line2",
        "billing address 2",
    ],
    "city": ["city", "town", "locality", "town city", "billing city"],
    "region": ["region", "state", "province", "county", "state region", "state province"],
    "postal_code": [
        "postal code",
        "postcode",
        "post code",
        "zip",
        "zip code",
        "zipcode",
        "postal",
        "plz",
        "billing postal code",
        "billing zip",
    ],
    "country": ["country", "country code", "billing country", "nation"],
    "currency": ["currency", "billing currency", "currency code"],
    "tax_id": [
        "tax id",
        "vat",
        "vat number",
        "vat id",
        "vat no",
        "vat reg no",
        "tax number",
        "tax id vat number",
        "business vat id",
        "ust idnr",
    ],
    "tax_rate": ["tax rate", "vat rate", "tax"],
    "payment_terms_days": ["payment terms", "payment terms days", "terms", "net days"],
    "invoicing_flow": ["invoicing flow", "invoicing"],
    "auto_pay": ["auto pay", "autopay", "auto collection"],
    "payment_gateway": ["payment gateway", "gateway"],
    "status": ["status", "customer status"],
    "footnotes": ["footnotes", "footnote", "notes", "note", "comments", "comment"],
}
_COMMON_KEYS = {key: field for field, keys in _COMMON.items() for key in keys}

# How a preset's rows find existing customers by default.
DEFAULT_MATCH = {"tally": "customer_id", "stripe": "external_id", "chargebee": "external_id"}


def recognise(headers: list[str]) -> str:
    """Which export the header row is: "tally", "stripe", "chargebee" or ""."""
    keys = {header_key(header) for header in headers}
    if {header_key(heading) for heading in TALLY_HEADINGS} <= keys | {"external id"}:
        return "tally"
    if any(signs <= keys for signs in _STRIPE_SIGNS):
        return "stripe"
    if "customers id" in keys and any(key.startswith("customers ") for key in keys):
        return "chargebee"
    return ""


def guess_mapping(headers: list[str]) -> tuple[str, list[str]]:
    """The preset recognised and the field for each column (SKIP for Don't import); a field
    goes to one column only, the first that names it."""
    preset = recognise(headers)
    if preset == "tally":
        known = {header_key(heading): field for heading, field in _TALLY.items()}
    elif preset == "stripe":
        known = _STRIPE
    elif preset == "chargebee":
        known = _CHARGEBEE
    else:
        known = _COMMON_KEYS
    taken: set[str] = set()
    mapping = []
    for header in headers:
        field = known.get(header_key(header), SKIP)
        if field in taken:
            field = SKIP
        taken.add(field)
        mapping.append(field)
    return preset, mapping


def default_match(preset: str, mapping: list[str]) -> str:
    """The preset's own key, else the external ID when a column holds it, else the email."""
    if preset in DEFAULT_MATCH:
        return DEFAULT_MATCH[preset]
    return "external_id" if "external_id" in mapping else "email"


def mapping_refusal(mapping: list[str], match_by: str) -> dict[str, str]:
    """What is wrong with a mapping staff chose: field -> message ({} if it can be used)."""
    errors: dict[str, str] = {}
    chosen = [field for field in mapping if field]
    unknown = [field for field in chosen if field not in FIELDS]
    if unknown:
        errors["mapping"] = "Choose a field from the list for every column."
        return errors
    twice = sorted({FIELDS[field] for field in chosen if chosen.count(field) > 1})
    if twice:
        errors["mapping"] = (
            f"{', '.join(twice)} {'is' if len(twice) == 1 else 'are'} chosen for more than one "
            "column: choose each field once, or Don't import."
        )
    if match_by not in MATCH_CHOICES:
        errors["match_by"] = "Choose how rows find existing customers."
    elif match_by not in chosen:
        errors["match_by"] = (
            f"No column is mapped to {MATCH_CHOICES[match_by]}: map one, or match by another field."
        )
    if "email" not in chosen and "email" not in errors:
        errors.setdefault(
            "mapping", "Map a column to Email: every customer needs an email address."
        )
    return errors
