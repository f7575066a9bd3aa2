/** Sidebar icons (inline SVG, themed through jp-icon3). */
import { LabIcon } from '@jupyterlab/ui-components';

export const graphIcon = new LabIcon({
  name: 'agentcore-nb:graph',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><circle cx="6" cy="5" r="3"/><circle cx="18" cy="5" r="3"/><circle cx="12" cy="19" r="3"/><path d="M6.8 7.6 11 16.5l1.6-.7L8.4 6.9zM17.2 7.6 13 16.5l-1.6-.7 4.2-8.9z"/></g></svg>'
});

export const traceIcon = new LabIcon({
  name: 'agentcore-nb:trace',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><rect x="2" y="4" width="14" height="3" rx="1"/><rect x="6" y="10" width="12" height="3" rx="1"/><rect x="10" y="16" width="12" height="3" rx="1"/></g></svg>'
});
