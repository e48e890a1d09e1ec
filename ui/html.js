/** htm bound to Preact: tagged templates instead of a JSX build step. */
import htm from "htm";
import { h } from "preact";

export const html = htm.bind(h);
