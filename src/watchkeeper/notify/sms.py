"""SMS through Twilio's REST API shape, against any compatible gateway.

`POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`, form-encoded `To`, `From`
(or `MessagingServiceSid`) and `Body`, HTTP basic auth with the account SID and auth token;
Twilio answers 201 Created. One request per recipient, since the API takes one `To`.
Twilio has no idempotency key for Messages, so a retry after a lost response can send twice;
after a partial failure `DeliveryResult.undelivered` names the numbers still owed the message.
"""

from __future__ import annotations

from urllib.parse import quote

from watchkeeper.clock import Clock

from .base import DeliveryResult, RenderedMessage
from .http import HttpChannel, HttpClient
from .outbound import OutboundPolicy

BODY_LIMIT = 1600  # Twilio's maximum message length (10 concatenated segments)


class SmsChannel(HttpChannel):
    """Sends each recipient one SMS through a Twilio-compatible Messages endpoint."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        default_recipients: tuple[str, ...] = (),
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        client: HttpClient | None = None,
        clock: Clock | None = None,
        name: str = "sms",
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("an SMS channel needs from_number or messaging_service_sid")
        self._sid = account_sid
        self._token = auth_token
        self._from = from_number
        self._service = messaging_service_sid
        self._default_recipients = default_recipients
        super().__init__(
            f"{base_url.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid, safe='')}"
            "/Messages.json",
            name=name,
            timeout=timeout,
            client=client,
            clock=clock,
            outbound=outbound,
        )

    def _form(self, to: str, body: str) -> dict[str, str]:
        form = {"To": to, "Body": body}
        if self._service:
            form["MessagingServiceSid"] = self._service
        else:
            assert self._from is not None
            form["From"] = self._from
        return form

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        recipients = message.recipients or self._default_recipients
        if not recipients:
            return DeliveryResult.fail(self._name, "no SMS recipients")
        body = (message.text or message.subject)[:BODY_LIMIT]
        results = [
            await self._post(data=self._form(to, body), auth=(self._sid, self._token), recipient=to)
            for to in recipients
        ]
        return _combine(self._name, results)


def _combine(channel: str, results: list[DeliveryResult]) -> DeliveryResult:
    """One result for several recipients: retryable if any can still succeed."""
    failed = [r for r in results if not r.delivered]
    if not failed:
        return DeliveryResult.ok(channel, results[-1].status_code)
    reason = "; ".join(f"{','.join(r.undelivered)}: {r.reason}" for r in failed)
    retryable = [r for r in failed if r.retryable]
    if retryable:
        hints = [r.retry_after for r in retryable if r.retry_after is not None]
        return DeliveryResult.retry(
            channel,
            reason,
            status_code=retryable[0].status_code,
            retry_after=max(hints) if hints else None,
            undelivered=tuple(to for r in retryable for to in r.undelivered),
        )
    return DeliveryResult.fail(
        channel,
        reason,
        status_code=failed[0].status_code,
        undelivered=tuple(to for r in failed for to in r.undelivered),
    )
