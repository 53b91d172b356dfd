#!/usr/bin/env node
// `npm start`: a server and an enrolled local agent on this machine.
import { quickstart } from "../dist/quickstart.js";

process.exit(await quickstart({ out: process.stdout, env: process.env, cwd: process.cwd() }));
