// Loads the wasm UI. Kept out of index.html so the CSP needs no inline script.
import init from './qingliu_ui.js';
init();
