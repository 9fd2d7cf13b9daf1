/**
 * A minimal SMTP sink for the end-to-end tests: the backend's outbox delivers to it and every
 * message is appended to a JSON-lines file the specs read (`readMail` in helpers.ts).
 * Just enough SMTP for Python's smtplib (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

export function startMailbox(file: string): Promise<{ server: Server; port: number }> {
  writeFileSync(file, "");
  const server = createServer((socket) => {
    let buffer = "";
    let inData = false;
    let to: string[] = [];
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply("220 flowlet-e2e ESMTP");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          const content = buffer.slice(0, end).replace(/\r\n\.\./g, "\r\n.");
          buffer = buffer.slice(end + 5);
          inData = false;
          appendFileSync(file, JSON.stringify({ to, content }) + "\n");
          to = [];
          reply("250 accepted");
          continue;
        }
        const newline = buffer.indexOf("\r\n");
        if (newline < 0) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") {
          reply("250-flowlet-e2e");
          reply("250 8BITMIME");
        } else if (verb === "RCPT") {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          reply("250 OK");
        } else if (verb === "DATA") {
          inData = true;
          reply("354 end with <CRLF>.<CRLF>");
        } else if (verb === "QUIT") {
          reply("221 bye");
          socket.end();
          return;
        } else if (verb === "RSET") {
          to = [];
          reply("250 OK");
        } else {
          reply("250 OK"); // HELO, MAIL, NOOP
        }
      }
    });
    socket.on("error", () => socket.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address ? address.port : 0 });
    }),
  );
}
