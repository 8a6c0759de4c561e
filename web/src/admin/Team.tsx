/** The agency's team in the console (/admin/team): members, invitations, roles (web/src/team/TeamPanel.tsx). */
import { TeamPanel } from '../team/TeamPanel';
import { useConsole } from './context';

export function Team() {
  const { api, dir } = useConsole();
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Team</h1>
          <p class="muted">
            The people of {dir.agency.name}: invite by email, change roles, remove. Owners and admins manage the team;
            only owners make owners, and there is always one.
          </p>
        </div>
      </div>
      <TeamPanel api={api} kind="agency" />
    </div>
  );
}
