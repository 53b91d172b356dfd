/** Agent ids look like hostnames, so they are safe in URLs, file names and logs. */
export const AGENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const AGENT_ID_RULE = 'use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit';
