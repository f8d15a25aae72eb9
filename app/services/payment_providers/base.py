"""The payment-provider adapter: everything Kabinet asks of an acquiring bank.

A provider never sees Kabinet's tables and Kabinet never sees a card number: the customer types
the card on the provider's hosted page (``start`` gives its URL), the provider reports the outcome
by a signed callback (``verify_callback``), and a saved card is only the provider's token.

Events (what ``verify_callback`` returns)::

    {"event_id", "provider_payment_id", "status": "succeeded" | "failed", "amount": "123.45",
     "card": {"token", "masked_number", "brand", "expires"} | None, "failure_reason": str | None}
"""


class PaymentProvider:
    name = ""

    def start(self, payment, return_url, save_card=False):
        """Open a payment on the provider's hosted page.

        Returns ``{"provider_payment_id", "confirmation_url"}``; the browser goes to the URL and
        comes back to ``return_url``; the outcome arrives later as a callback."""
        raise NotImplementedError

    def charge_saved(self, token, payment):
        """Charge a saved card without the customer (autopay), synchronously.

        Returns ``{"provider_payment_id", "status": "succeeded" | "failed", "failure_reason"}``."""
        raise NotImplementedError

    def refund(self, payment):
        """Return a succeeded payment's money in full (the card check). Returns ``{"status": "refunded"}``."""
        raise NotImplementedError

    def verify_callback(self, body, headers):
        """Authenticate a callback by its raw ``body`` (bytes) and headers; returns the event.

        Raises ``Forbidden("payment_callback_forged")`` when the signature does not hold."""
        raise NotImplementedError
