# kubeusers image: built JavaScript and production dependencies only, on Node 24.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY config/kubeusers.example.yaml ./config/kubeusers.example.yaml
# Runs as root with every capability dropped but CHOWN, FOWNER and DAC_OVERRIDE (see SECURITY.md):
# it must create homes and chown credentials to each account's uid.
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/cli/index.js"]
CMD ["run", "--config", "/etc/kubeusers/kubeusers.yaml"]
