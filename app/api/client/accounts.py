"""Client API: personal accounts (AC-1, AC-3, AC-4) and energy-supply contracts (AC-2).

Everything acts on ``g.customer``; an account or contract the customer has not linked is 404,
whoever else it belongs to.
"""
from flask import g, request
from flask_appbuilder.api import expose

from ...errors import Invalid
from ...services import account_access, accounts, object_events
from . import accounts_messages, profile_messages  # noqa: F401  (register the error codes)
from .accounts_schemas import (
    AccountLinkSchema,
    AccountLookupResultSchema,
    AccountLookupSchema,
    AccountSchema,
    AccountUnlinkSchema,
    AccountUpdateSchema,
    AccountVerifySchema,
    ContractNumberSchema,
    ContractReportSchema,
    ContractSchema,
    CustomerContractSchema,
    ObjectEventQuerySchema,
    ObjectEventSchema,
    SummarySchema,
)
from .base import ClientApi, customer_required, origin

_account = AccountSchema()
_summary = SummarySchema()


def lookup_result(account, linked=False):
    return AccountLookupResultSchema().dump({
        "number": account.number, "supplier": account.supplier, "address": account.address,
        "holder": accounts.mask_name(account.holder_name), "linked": linked})


class ClientAccountsApi(ClientApi):
    resource_name = "client/accounts"
    route_base = "/api/v1/client/accounts"
    openapi_spec_tag = "Client: accounts"
    openapi_spec_component_schemas = (
        AccountLookupSchema, AccountLookupResultSchema, AccountLinkSchema, AccountVerifySchema, AccountUpdateSchema,
        AccountUnlinkSchema, AccountSchema, SummarySchema, ObjectEventSchema,
    )

    @expose("/lookup", methods=["POST"])
    @customer_required
    def lookup(self):
        """Step one of linking: the account's address (and masked holder) to confirm.
        ---
        post:
          summary: Find an account by number
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/AccountLookupSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AccountLookupResultSchema'}}}
            401: {description: Not signed in}
            404: {description: Unknown number (account_number_unknown)}
            409: {description: 'The number exists at several suppliers (account_supplier_ambiguous;
              fields.supplier lists their codes): repeat with supplier'}
            429: {description: Too many lookups (Retry-After)}
        """
        body = AccountLookupSchema().load(self.json_body())
        account, linked = accounts.lookup(g.customer.id, body["number"], body["supplier"], ip=origin()["ip"])
        return self.response(200, **lookup_result(account, linked))

    @expose("", methods=["POST"])
    @customer_required
    def link(self):
        """Link an account whose address the customer confirmed. With the period and amount of one
        of its last three bills it is verified at once; otherwise (or when they are wrong) it is
        linked unverified: it can be looked at, but not paid nor its readings submitted.
        ---
        post:
          summary: Link an account
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/AccountLinkSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/AccountSchema'}}}
            401: {description: Not signed in}
            404: {description: Unknown number (account_number_unknown)}
            409: {description: Already linked (account_already_linked) or ambiguous supplier}
            422: {description: 'Address not confirmed (address_confirmation_required), period without amount
              or the reverse (bill_proof_incomplete), bad period or amount'}
            429: {description: Too many wrong bill attempts for this account (account_verify_locked)}
        """
        body = AccountLinkSchema().load(self.json_body())
        found = accounts.link_account(g.customer.id, body["number"], body["supplier"], body["address_confirmed"],
                                      body["period"], body["amount"], **origin())
        return self.response(201, **_account.dump(found))

    @expose("", methods=["GET"])
    @customer_required
    def list_accounts(self):
        """The customer's accounts, in the order they were linked.
        ---
        get:
          summary: Linked accounts
          security: [{customer: []}]
          responses:
            200: {description: 'result: a list of AccountSchema; count'}
            401: {description: Not signed in}
        """
        rows = accounts.links(g.customer.id)
        return self.response(200, result=_account.dump(rows, many=True), count=len(rows))

    @expose("/summary", methods=["GET"])
    @customer_required
    def summary(self):
        """Per account: address, supplier, services, amount due or overpayment, e-bill status;
        and the totals over all linked accounts ("all paid" when nothing is due).
        ---
        get:
          summary: Accounts summary
          security: [{customer: []}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/SummarySchema'}}}
            401: {description: Not signed in}
        """
        return self.response(200, **_summary.dump(accounts.summary(g.customer)))

    @expose("/<int:account_id>", methods=["GET"])
    @customer_required
    def get_account(self, account_id):
        """One linked account.
        ---
        get:
          summary: A linked account
          security: [{customer: []}]
          parameters: [{in: path, name: account_id, required: true, schema: {type: integer}}]
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AccountSchema'}}}
            401: {description: Not signed in}
            404: {description: Not among the customer's accounts (account_not_found)}
        """
        return self.response(200, **_account.dump(account_access.link(g.customer.id, account_id)))

    @expose("/<int:account_id>", methods=["PATCH"])
    @customer_required
    def rename(self, account_id):
        """Give the account a name of one's own ("Дача").
        ---
        patch:
          summary: Rename an account
          security: [{customer: []}]
          parameters: [{in: path, name: account_id, required: true, schema: {type: integer}}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/AccountUpdateSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AccountSchema'}}}
            401: {description: Not signed in}
            404: {description: Not among the customer's accounts (account_not_found)}
            422: {description: Longer than 64 characters (alias_too_long)}
        """
        body = AccountUpdateSchema().load(self.json_body())
        return self.response(200, **_account.dump(accounts.rename(g.customer.id, account_id, body["alias"])))

    @expose("/<int:account_id>", methods=["DELETE"])
    @customer_required
    def unlink(self, account_id):
        """Unlink an account; the body must say {"confirm": true}. The customer's autopay of the
        account is cancelled with it.
        ---
        delete:
          summary: Unlink an account
          security: [{customer: []}]
          parameters: [{in: path, name: account_id, required: true, schema: {type: integer}}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/AccountUnlinkSchema'}}}
          responses:
            204: {description: Unlinked}
            401: {description: Not signed in}
            404: {description: Not among the customer's accounts (account_not_found)}
            422: {description: No confirmation (unlink_confirmation_required)}
        """
        body = AccountUnlinkSchema().load(request.get_json(silent=True) or {})
        accounts.unlink(g.customer.id, account_id, body["confirm"], **origin())
        return self.response(204)

    @expose("/<int:account_id>/verify", methods=["POST"])
    @customer_required
    def verify(self, account_id):
        """Verify a linked account with the period and amount of one of its last three bills.
        Attempts are counted before checking: after 5 wrong ones it is locked for an hour.
        ---
        post:
          summary: Verify an account by a bill
          security: [{customer: []}]
          parameters: [{in: path, name: account_id, required: true, schema: {type: integer}}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/AccountVerifySchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/AccountSchema'}}}
            401: {description: Not signed in}
            404: {description: Not among the customer's accounts (account_not_found)}
            422: {description: No such bill among the last three (bill_mismatch), bad period or amount}
            429: {description: Locked after too many wrong attempts (account_verify_locked, Retry-After)}
        """
        body = AccountVerifySchema().load(self.json_body())
        found = accounts.verify(g.customer.id, account_id, body["period"], body["amount"], **origin())
        return self.response(200, **_account.dump(found))

    @expose("/<int:account_id>/object-events", methods=["GET"])
    @customer_required
    def events(self, account_id):
        """Security events at the account's guarded objects (armed, alarm, disarmed), newest first.
        ---
        get:
          summary: Security events of an account
          security: [{customer: []}]
          parameters:
          - {in: path, name: account_id, required: true, schema: {type: integer}}
          - {in: query, name: from, schema: {type: string}, description: 'ISO date or date-time, inclusive'}
          - {in: query, name: to, schema: {type: string},
             description: 'ISO date-time, exclusive; a bare date includes that whole day'}
          - {in: query, name: page, schema: {type: integer, minimum: 0, default: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100, default: 50}}
          responses:
            200: {description: 'result: a list of ObjectEventSchema; count: all events in the period'}
            401: {description: Not signed in}
            404: {description: Not among the customer's accounts (account_not_found)}
            422: {description: 'Bad date (period_invalid), from not before to (period_order), bad paging'}
        """
        args = ObjectEventQuerySchema().load(request.args.to_dict())
        if args["since"] and args["until"] and args["since"] >= args["until"]:
            raise Invalid(fields={"to": ["period_order"]})
        rows, total = object_events.of_account(g.customer.id, account_id, args["since"], args["until"],
                                               args["page"], args["page_size"])
        return self.response(200, result=ObjectEventSchema(many=True).dump(rows), count=total,
                             page=args["page"], page_size=args["page_size"])


class ClientContractsApi(ClientApi):
    resource_name = "client/contracts"
    route_base = "/api/v1/client/contracts"
    openapi_spec_tag = "Client: accounts"
    openapi_spec_component_schemas = (ContractNumberSchema, ContractReportSchema, ContractSchema,
                                      CustomerContractSchema)

    @expose("", methods=["GET"])
    @customer_required
    def list_contracts(self):
        """The customer's contracts.
        ---
        get:
          summary: My contracts
          security: [{customer: []}]
          responses:
            200: {description: 'result: a list of CustomerContractSchema; count'}
            401: {description: Not signed in}
        """
        rows = accounts.contracts(g.customer.id)
        return self.response(200, result=CustomerContractSchema(many=True).dump(rows), count=len(rows))

    @expose("/search", methods=["GET"])
    @customer_required
    def search(self):
        """Find a contract by its number (exact): kind, supplier and account number.
        ---
        get:
          summary: Find a contract
          security: [{customer: []}]
          parameters:
          - {in: query, name: number, required: true, schema: {type: string}}
          - {in: query, name: supplier, schema: {type: string}, description: supplier code, when ambiguous}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/ContractSchema'}}}
            401: {description: Not signed in}
            404: {description: No such contract (contract_unknown)}
            409: {description: At several suppliers (contract_supplier_ambiguous)}
            429: {description: Too many lookups}
        """
        args = ContractNumberSchema().load(request.args.to_dict())
        contract = accounts.search_contract(g.customer.id, args["number"], args["supplier"], ip=origin()["ip"])
        return self.response(200, **ContractSchema().dump(contract))

    @expose("", methods=["POST"])
    @customer_required
    def add(self):
        """Add a contract to the customer's list by its number.
        ---
        post:
          summary: Add a contract
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ContractNumberSchema'}}}
          responses:
            201:
              content: {application/json: {schema: {$ref: '#/components/schemas/CustomerContractSchema'}}}
            401: {description: Not signed in}
            404: {description: No such contract (contract_unknown)}
            409: {description: Already added (contract_already_added) or ambiguous supplier}
        """
        body = ContractNumberSchema().load(self.json_body())
        entry = accounts.add_contract(g.customer.id, body["number"], body["supplier"])
        return self.response(201, **CustomerContractSchema().dump(entry))

    @expose("/<int:contract_id>", methods=["DELETE"])
    @customer_required
    def remove(self, contract_id):
        """Remove a contract from the customer's list.
        ---
        delete:
          summary: Remove a contract
          security: [{customer: []}]
          parameters: [{in: path, name: contract_id, required: true, schema: {type: integer}}]
          responses:
            204: {description: Removed}
            401: {description: Not signed in}
            404: {description: Not on the customer's list (contract_not_found)}
        """
        accounts.remove_contract(g.customer.id, contract_id)
        return self.response(204)

    @expose("/report-concluded", methods=["POST"])
    @customer_required
    def report_concluded(self):
        """Report that a supply contract was concluded for the object of a grid-connection
        contract, identified by that contract's barcode (its number as printed, e.g.
        "TP-2026-000123"; a Cyrillic "ТП-" is read the same). The contract joins the customer's
        list and the contact centre is told; reporting again changes nothing.
        ---
        post:
          summary: Report a concluded supply contract
          security: [{customer: []}]
          requestBody:
            required: true
            content: {application/json: {schema: {$ref: '#/components/schemas/ContractReportSchema'}}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/CustomerContractSchema'}}}
            401: {description: Not signed in}
            404: {description: No grid-connection contract with this barcode (contract_barcode_unknown)}
            429: {description: Too many lookups}
        """
        body = ContractReportSchema().load(self.json_body())
        entry = accounts.report_concluded(g.customer, body["barcode"], ip=origin()["ip"])
        return self.response(200, **CustomerContractSchema().dump(entry))
