import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface ClientTls {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

export interface JsonReply {
  readonly status: number;
  readonly body: unknown;
}

/** One JSON POST to another member's client API (http or https). */
export function postJson(
  baseUrl: string,
  path: string,
  body: unknown,
  tls: ClientTls,
  timeoutMs: number,
  headers: Readonly<Record<string, string>> = {},
): Promise<JsonReply> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const https = url.protocol === "https:";
    const options = {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      timeout: timeoutMs,
      ...(https && tls),
    };
    const req = (https ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text for the log
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}
