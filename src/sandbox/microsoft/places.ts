import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DirRoom } from '../generate.js';
import { odata } from '../http.js';
import type { MicrosoftTenant, SandboxState } from '../state.js';
import { GRAPH_ERRORS } from './errors.js';
import { contextUrl, nextLink, skipToken, topParam } from './odata.js';
import { authenticateGraph } from './token.js';

function roomRecord(r: DirRoom): Record<string, unknown> {
  return {
    id: r.id,
    emailAddress: r.email,
    displayName: r.name,
    address: { street: '', city: r.building ?? '', state: '', postalCode: '', countryOrRegion: '' },
    geoCoordinates: null,
    phone: '',
    nickname: r.name,
    label: null,
    capacity: r.capacity,
    building: r.building,
    floorNumber: r.floorNumber,
    floorLabel: r.floorLabel,
    isWheelChairAccessible: false,
    bookingType: 'standard',
    tags: [],
    audioDeviceName: null,
    videoDeviceName: null,
    displayDeviceName: null,
  };
}

/** Start position from `$skiptoken` or `$skip` (places support both); sends the 400 for bad ones. */
function startOf(
  state: SandboxState,
  t: MicrosoftTenant,
  req: FastifyRequest,
  reply: FastifyReply,
  kind: string,
): number | undefined {
  const skip = odata(req.query).get('$skip');
  if (skip !== undefined && odata(req.query).get('$skiptoken') === undefined) {
    if (!/^\d+$/.test(skip)) {
      GRAPH_ERRORS.badTop(req, reply, skip, Number.MAX_SAFE_INTEGER);
      return undefined;
    }
    return t.org.rooms.positionOf(Number(skip));
  }
  return skipToken(state, req, reply, kind)?.pos;
}

export function registerGraphPlaces(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'graph' as const };

  const listRooms = (
    req: FastifyRequest,
    reply: FastifyReply,
    kind: string,
    context: string,
    accept?: (r: DirRoom) => boolean,
  ): FastifyReply => {
    const t = authenticateGraph(state, req, reply, false);
    const top = t && topParam(req, reply, 100, state.pageSize.graphTopMax);
    const start = t && top ? startOf(state, t, req, reply, kind) : undefined;
    if (!t || !top || start === undefined) {
      return reply;
    }
    const page = t.org.rooms.page(start, top, accept);
    return reply.send({
      '@odata.context': contextUrl(state, context),
      ...(page.next === undefined
        ? {}
        : { '@odata.nextLink': nextLink(state, req, state.pages.encode(kind, 0, page.next)) }),
      value: page.items.map(roomRecord),
    });
  };

  // With shapes, equipment mailboxes are not places (they are in /users): as in Exchange Online.
  const placeOnly = state.microsoft?.org.shapes ? (r: DirRoom) => r.category !== 'OTHER' : undefined;
  app.get('/v1.0/places/microsoft.graph.room', { config }, (req, reply) =>
    listRooms(req, reply, 'm.rooms', 'places/microsoft.graph.room', placeOnly),
  );

  app.get('/v1.0/places/microsoft.graph.roomlist', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, false);
    if (!t) {
      return reply;
    }
    return reply.send({
      '@odata.context': contextUrl(state, 'places/microsoft.graph.roomList'),
      value: t.org.roomLists.map((l) => ({
        id: l.id,
        displayName: l.displayName,
        address: { street: '', city: l.building, state: '', postalCode: '', countryOrRegion: '' },
        geocoordinates: null,
        phone: '',
        emailAddress: l.emailAddress,
      })),
    });
  });

  app.get<{ Params: { list: string } }>(
    '/v1.0/places/:list/microsoft.graph.roomlist/rooms',
    { config },
    (req, reply) => {
      const list = state.microsoft?.org.findRoomList(req.params.list);
      if (!list) {
        const t = authenticateGraph(state, req, reply, false);
        return t ? GRAPH_ERRORS.itemNotFound(req, reply) : reply;
      }
      const index = state.microsoft?.org.roomLists.indexOf(list) ?? 0;
      return listRooms(
        req,
        reply,
        `m.rl.${index}`,
        `places('${encodeURIComponent(list.emailAddress)}')/microsoft.graph.roomlist/rooms`,
        (r) => r.building === list.building && (placeOnly?.(r) ?? true),
      );
    },
  );
}
