import '../shared/style.css';

import { render } from 'preact';

import { InvitePage } from '../team/Invite';
import { SetupPage } from '../team/Setup';
import { App } from './App';

// The first-run setup and invitation links land here (every path outside /admin and /source serves this page).
const path = location.pathname.replace(/\/+$/, '');
const Page = path === '/setup' ? SetupPage : path === '/invite' ? InvitePage : App;
render(<Page />, document.getElementById('app')!);
