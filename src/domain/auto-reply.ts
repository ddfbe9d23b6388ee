/**
 * Auto-replies and delivery reports: messages a machine wrote in answer to another message (out of office,
 * vacation responders, non-delivery and read reports). Recognized from the headers alone, so the reason can be
 * named ("Auto-Submitted: auto-replied") and a person's own reply is never mistaken for one.
 */

/** Why the message is an auto-reply or a report, or null. `headers`: names lower-cased, values as text. */
export function autoReplyReason(headers: ReadonlyMap<string, string>, contentType: string): string | null {
  // RFC 3834 section 5: any value but "no" marks a message as automatically submitted (auto-replied,
  // auto-generated, auto-notified and extensions alike); parameters after ";" do not change that.
  const autoSubmitted = headers.get('auto-submitted');
  if (autoSubmitted !== undefined) {
    const keyword = autoSubmitted.split(';')[0]!.trim().toLowerCase();
    if (keyword !== '' && keyword !== 'no') return `Auto-Submitted ${keyword}`;
  }

  // Delivery status notifications (RFC 3464) and read reports (RFC 8098) travel as multipart/report.
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'multipart/report') {
    const reportType = /report-type\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase();
    return reportType ? `multipart/report ${reportType}` : 'multipart/report';
  }

  // Non-standard headers that responders (and nothing else) set: X-Autoreply, X-Autorespond.
  for (const name of ['x-autoreply', 'x-autorespond']) {
    const value = headers.get(name);
    if (value !== undefined && !/^\s*(no|false|0)\s*$/i.test(value)) return `${headerName(name)} ${value.trim()}`.trim();
  }

  // "Precedence: auto_reply" is what some responders send on their replies. "bulk", "junk" and "list" are not
  // auto-replies but mass mail (lists, newsletters, ticket systems): the filter option decides about those.
  const precedence = headers.get('precedence')?.trim().toLowerCase();
  if (precedence === 'auto_reply' || precedence === 'auto-reply') return `Precedence ${precedence}`;

  // X-Auto-Response-Suppress alone asks the receiving server not to auto-reply: mailing lists, ticket systems
  // and Exchange itself (on mail expanded from distribution lists) put it on mail people wrote, and helpdesks
  // that treated it as an auto-reply marker lost real mail. Exchange's own automatic replies carry it as "All"
  // together with X-MS-Exchange-Inbox-Rules-Loop (the header of mail a mailbox rule, the Out of Office
  // assistant among them, produced): only that pair counts.
  const suppress = headers.get('x-auto-response-suppress')?.trim();
  if (suppress !== undefined && /^all$/i.test(suppress) && headers.has('x-ms-exchange-inbox-rules-loop')) {
    return `X-Auto-Response-Suppress ${suppress} (with X-MS-Exchange-Inbox-Rules-Loop)`;
  }
  return null;
}

function headerName(lower: string): string {
  return lower === 'x-autoreply' ? 'X-Autoreply' : 'X-Autorespond';
}
