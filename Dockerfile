FROM python:3.13-slim
WORKDIR /srv/engine
COPY pyproject.toml README.md ./
COPY app ./app
COPY schema ./schema
COPY flow_api ./flow_api
RUN pip install --no-cache-dir .
RUN useradd --create-home engine
USER engine
EXPOSE 8000
CMD ["engine", "serve", "--host", "0.0.0.0", "--port", "8000"]
