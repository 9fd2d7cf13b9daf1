/** The server's SVG as an image: an <img> cannot run scripts, whatever the SVG holds. */
export function svgDataUri(svg: string): string {
  // Inline SVG (as the server sends it) has no namespace or viewBox; a standalone image needs both.
  let text = svg.trim();
  if (!/^<svg[^>]*\sxmlns=/.test(text)) text = text.replace(/^<svg/, '<svg xmlns="http://www.w3.org/2000/svg"');
  const size = /^<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(text);
  if (size && !/^<svg[^>]*\sviewBox=/.test(text)) text = text.replace(/^<svg/, `<svg viewBox="0 0 ${size[1]} ${size[2]}"`);
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}
