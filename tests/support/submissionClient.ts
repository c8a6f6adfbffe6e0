// A mail user's client on the submission port: Python's smtplib (as a real client would be),
// STARTTLS (the test's self-signed certificate is not verified), AUTH, then one message. The
// credentials and the message go over stdin, never on a command line.

import * as daemon from "./throwawayDaemon";

export interface Submission {
  port: number;
  /** Log in as this user (AUTH PLAIN after STARTTLS); none: send without logging in. */
  user?: string;
  password?: string;
  /** Try AUTH before STARTTLS (what a misconfigured client does); nothing is sent. */
  authBeforeStartTls?: boolean;
  /** Stop after RCPT (RSET, QUIT): whether the server would take it, without sending it. */
  rcptOnly?: boolean;
  from: string;
  to: string;
  message: string;
}

/** What the server answered: accepted, or the stage that was refused and its reply. */
export type SubmissionResult =
  | { ok: true }
  | {
      ok: false;
      stage: "auth" | "mail" | "rcpt" | "data" | "starttls";
      code: number;
      reply: string;
    };

const CLIENT_PY = String.raw`
import json, smtplib, ssl, sys, base64
r = json.loads(sys.stdin.read())
def refused(stage, code, reply):
    print(json.dumps({"ok": False, "stage": stage, "code": code, "reply": reply.decode() if isinstance(reply, bytes) else str(reply)}))
    sys.exit(0)
s = smtplib.SMTP("127.0.0.1", r["port"], timeout=30)
s.ehlo("client.test.invalid")
if r.get("authBeforeStartTls"):
    token = base64.b64encode(("\0%s\0%s" % (r["user"], r["password"])).encode()).decode()
    code, reply = s.docmd("AUTH", "PLAIN " + token)
    refused("auth", code, reply)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
code, reply = s.starttls(context=ctx)
if code != 220:
    refused("starttls", code, reply)
s.ehlo("client.test.invalid")
if r.get("user"):
    try:
        s.login(r["user"], r["password"])
    except smtplib.SMTPAuthenticationError as e:
        refused("auth", e.smtp_code, e.smtp_error)
if r.get("rcptOnly"):
    code, reply = s.mail(r["from"])
    if code != 250:
        refused("mail", code, reply)
    code, reply = s.rcpt(r["to"])
    if code not in (250, 251):
        refused("rcpt", code, reply)
    s.rset()
    s.quit()
    print(json.dumps({"ok": True}))
    sys.exit(0)
try:
    s.sendmail(r["from"], [r["to"]], r["message"].encode())
except smtplib.SMTPSenderRefused as e:
    refused("mail", e.smtp_code, e.smtp_error)
except smtplib.SMTPRecipientsRefused as e:
    code, reply = list(e.recipients.values())[0]
    refused("rcpt", code, reply)
except smtplib.SMTPDataError as e:
    refused("data", e.smtp_code, e.smtp_error)
s.quit()
print(json.dumps({"ok": True}))
`;

export async function submit(s: Submission): Promise<SubmissionResult> {
  const r = await daemon.run("/usr/bin/python3", ["-c", CLIENT_PY], JSON.stringify(s));
  try {
    return JSON.parse(r.stdout) as SubmissionResult;
  } catch {
    throw new Error(`the submission client failed (${r.code}): ${r.stdout}${r.stderr}`);
  }
}
