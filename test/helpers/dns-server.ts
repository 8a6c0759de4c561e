/**
 * A local DNS server for the MX check's tests (dns2, speaking the real wire
 * protocol over UDP on 127.0.0.1): each domain answers as the test says – MX
 * records, a null MX, only an address, NXDOMAIN, SERVFAIL, or no answer at all
 * (the resolver times out). Node's resolver is pointed at it, never mocked.
 */
import dns2 from 'dns2';

const { Packet } = dns2;

export type Zone = Record<
  string,
  { mx?: { exchange: string; priority: number }[]; a?: string[]; nxdomain?: true; servfail?: true; silent?: true }
>;

export interface LocalDns {
  /** `127.0.0.1:port`, for LW_DNS_SERVERS / mxChecker({ servers }). */
  server: string;
  /** Questions asked, as `TYPE name` (to see the cache at work). */
  asked: string[];
  close(): Promise<void>;
}

export async function startLocalDns(zone: Zone): Promise<LocalDns> {
  const asked: string[] = [];
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      // dns2 encodes plain records by their type; its Resource type describes the decoded class.
      const answers = response.answers as object[];
      const [question] = request.questions;
      const name = question!.name.toLowerCase();
      const type = question!.type;
      asked.push(`${type === Packet.TYPE.MX ? 'MX' : type === Packet.TYPE.A ? 'A' : type} ${name}`);
      const entry = zone[name];
      if (entry?.silent) return; // never answers: the resolver's timeout decides
      if (!entry || entry.nxdomain)
        response.header.rcode = 3; // NXDOMAIN
      else if (entry.servfail)
        response.header.rcode = 2; // SERVFAIL
      else if (type === Packet.TYPE.MX)
        for (const mx of entry.mx ?? [])
          answers.push({ name, type: Packet.TYPE.MX, class: Packet.CLASS.IN, ttl: 300, ...mx });
      else if (type === Packet.TYPE.A)
        for (const address of entry.a ?? [])
          answers.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 300, address });
      void send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const { udp } = server.addresses() as { udp: { port: number } };
  return {
    server: `127.0.0.1:${udp.port}`,
    asked,
    close: () => server.close(),
  };
}
