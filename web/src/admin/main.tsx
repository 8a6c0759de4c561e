import '../shared/style.css';

import { render } from 'preact';

import { AccountPreview } from '../shared/account/Preview';
import { App } from './App';

// TEMPORARY (#20): the account sections until the account page shell lands.
const root = document.getElementById('app')!;
if (location.pathname.startsWith('/admin/account')) render(<AccountPreview />, root);
else render(<App />, root);
