/**
 * Tenants and their vocabulary: the root token creates an agency (and its
 * first admin key); the agency's admin defines its service lines.
 */
import {
  agencySettings,
  createAgencyWithKey,
  createServiceLine,
  listServiceLines,
  updateAgencySettings,
} from '../../db/agencies';
import { isUniqueViolation } from '../../db/ledger';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { PageQuery } from '../schemas';
import { agencyView, serviceLineView } from '../views';
import { AgencyCreate, AgencySettingsPatch, Responses, ServiceLineCreate } from './agencies.schemas';

export const agencyRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/agencies',
    operationId: 'createAgency',
    tag: 'Agencies',
    summary: 'Create an agency (root token only); answers its admin key, shown once',
    body: AgencyCreate,
    responses: { 201: { description: 'created', schema: Responses.AgencyCreated }, ...BODY_ERRORS, ...AUTH_ERRORS },
    async handler({ body, services }) {
      const { agency, key } = await createAgencyWithKey(services.db, { name: body.name, timeZone: body.timeZone });
      return { status: 201, body: { agency: agencyView(agency), adminKey: key.key } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/service-lines',
    operationId: 'createServiceLine',
    tag: 'Agencies',
    summary: 'Define a service line (e.g. roofing); keys are unique per agency',
    body: ServiceLineCreate,
    responses: {
      201: { description: 'created', schema: Responses.ServiceLine },
      409: { description: 'the key exists already (`conflict`)' },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      try {
        const row = await createServiceLine(services.db, principal.agencyId, body);
        return { status: 201, body: { serviceLine: serviceLineView(row) } };
      } catch (err) {
        if (isUniqueViolation(err, 'service_lines_agency_key_uq')) {
          throw new Problem(409, 'conflict', `Service line "${body.key}" already exists.`);
        }
        throw err;
      }
    },
  }),

  route({
    method: 'get',
    path: '/v1/service-lines',
    operationId: 'listServiceLines',
    tag: 'Agencies',
    summary: "The agency's service lines",
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.ServiceLines }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listServiceLines(services.db, principal.agencyId, pageArgs(query));
      return { status: 200, body: listBody('serviceLines', page, serviceLineView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/settings',
    operationId: 'getSettings',
    tag: 'Agencies',
    summary: "The agency's settings: duplicate window, consent, auto-pause, return rules, buyer self-service limits",
    responses: {
      200: { description: 'the settings (absent keys: defaults)', schema: Responses.Settings },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      return { status: 200, body: { settings: await agencySettings(services.db, principal.agencyId) } };
    },
  }),

  route({
    method: 'patch',
    path: '/v1/settings',
    operationId: 'updateSettings',
    tag: 'Agencies',
    summary: 'Change settings: each key given replaces its value; null restores the default',
    body: AgencySettingsPatch,
    responses: {
      200: { description: 'the settings as changed', schema: Responses.Settings },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      return {
        status: 200,
        body: { settings: await updateAgencySettings(services.db, principal.agencyId, body, auditBy(principal)) },
      };
    },
  }),
];
