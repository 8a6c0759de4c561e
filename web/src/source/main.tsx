import { render } from 'preact';
import '../shared/style.css';
import { App } from './App';

render(<App />, document.getElementById('app')!);
